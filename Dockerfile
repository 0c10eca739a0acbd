# One image for the three Quorum processes: `npm run migrate` (one-shot), `npm run api`, `npm run worker`.
FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm install --omit=dev --no-audit --no-fund
COPY domain ./domain
COPY workflows ./workflows
COPY activities ./activities
COPY infra ./infra
COPY api ./api
COPY worker ./worker
COPY scripts ./scripts
COPY tsconfig.json ./
USER node
EXPOSE 3000
CMD ["npm", "run", "api"]
